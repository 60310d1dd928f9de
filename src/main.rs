use clap::Parser;
use wa_gateway::cli::{run, Cli};

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // `.env` first; it never overrides the process environment.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wa-gateway: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
