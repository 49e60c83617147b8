use clap::Parser;

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
