//! The integration tests: each runs the real `promptctl` binary in a fresh
//! temp workspace (see `util.rs`) and checks exit codes, output and files.

mod fake;
mod util;

mod ab;
mod agent_loop;
mod answers;
mod azure;
mod commands;
mod compare;
mod deploy;
mod doctor;
mod eval;
mod evidence;
mod exits;
mod files;
mod gemini;
mod hashing;
mod hostile;
mod input_errors;
mod messages;
mod params;
mod promote_gate;
mod release;
mod render;
mod retry_hints;
mod schemas;
mod secrets;
mod tools;
mod verify;
