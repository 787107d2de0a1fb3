fn main() -> std::process::ExitCode {
    supctl::cli::main()
}
