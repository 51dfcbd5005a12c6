//! `mock-upstream --port 9100`: the loopback provider mocks (OpenAI, Anthropic and Gemini wire
//! formats) as a process, for the Python SDK tests, the browser tests and the benchmark.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    #[arg(long, default_value_t = 9100)]
    port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind((cli.host, cli.port)).await?;
    let mock = mock_upstream::spawn(listener)?;
    println!("mock upstream listening on {}", mock.root());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
