use clap::Parser;
use wa_gateway::cli::{run, Cli};

/// mimalloc: the proxy path allocates and frees many small buffers per request across worker
/// threads, where glibc's allocator spent about a tenth of the gateway's CPU (perf profile of
/// `scripts/bench-proxy.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
