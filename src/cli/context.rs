//! What every command gets: the printer and where the workspace is, and the
//! loading that several commands share.

use std::path::PathBuf;

use super::output::Printer;
use crate::error::Error;
use crate::workspace::Workspace;

/// What every command gets: the printer and where the workspace is.
pub(super) struct Context<'a> {
    pub printer: &'a Printer,
    pub dir: Option<PathBuf>,
}

impl Context<'_> {
    pub(super) fn workspace(&self) -> Result<Workspace, Error> {
        Workspace::discover(self.dir.as_deref())
    }
}

/// Loads a draft or a verified released version.
pub(super) fn load_ref(
    ws: &Workspace,
    r: &crate::workspace::name::PromptRef,
) -> Result<
    (
        crate::version::artifact::Artifact,
        Option<crate::version::manifest::Manifest>,
    ),
    Error,
> {
    ws.require_prompt(&r.name)?;
    match &r.version {
        None => Ok((
            crate::version::artifact::Artifact::load(
                &ws.prompt_dir(&r.name),
                &ws.prompt_label(&r.name),
                &r.name,
            )?,
            None,
        )),
        Some(v) => {
            let released = crate::version::store::open(ws, &r.name, v)?;
            Ok((released.artifact, Some(released.manifest)))
        }
    }
}
