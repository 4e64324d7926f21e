fn main() -> std::process::ExitCode {
    promptctl::run(std::env::args_os())
}
