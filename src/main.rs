fn main() -> std::process::ExitCode {
    fleetcert::main()
}
