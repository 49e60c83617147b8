use clap::Parser;

// Request paths allocate many small, short-lived values; mimalloc serves them faster than
// glibc's allocator (benches/mapping.rs measures with the same one).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = fedgate::cli::Cli::parse();
    match fedgate::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fedgate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
