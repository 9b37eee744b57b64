//! The `runner` binary: all of it is the library's (`src/lib.rs`), so that
//! a cold build compiles it while the AWS SDK is still being optimised and
//! only links here.

fn main() -> std::process::ExitCode {
    runner::main()
}
