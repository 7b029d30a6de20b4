//! Speed and memory of the embedded e5 model: `cargo bench -p frontdesk-engine`.
//!
//! Uses the model in `$FRONTDESK_MODEL_DIR` or `~/.cache/frontdesk/models`, fetching it there
//! first when it is missing. Prints load time, milliseconds per sentence (one at a time and in
//! batches, one thread and all threads) and the process's resident memory.

use frontdesk_agent::EmbedKind;
use frontdesk_engine::{E5Model, ModelStore, MODEL_DIR_ENV};
use std::path::PathBuf;
use std::time::Instant;

const SENTENCES: &[&str] = &[
    "What time does the gym open on Sundays?",
    "Wann öffnet das Fitnessstudio am Sonntag?",
    "Can I cancel my membership online?",
    "Ich möchte einen Termin für eine Massage buchen.",
    "Our studio offers yoga classes every Monday and Wednesday at 6 pm.",
    "Do you have parking spaces for members?",
    "Quanto costa un abbonamento mensile?",
    "Is the sauna included in the basic plan?",
];

fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV) {
        return dir.into();
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/frontdesk/models")
}

/// Resident and peak resident memory in MB (Linux).
fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time of the whole process so far, in milliseconds (Linux; 10 ms resolution).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

/// Wall and CPU milliseconds per sentence (the machine is shared: CPU time is the steadier figure).
fn per_sentence(model: &E5Model, rounds: usize, batch: usize) -> (f64, f64) {
    let texts: Vec<&str> = SENTENCES.iter().cycle().take(batch).copied().collect();
    let cpu = cpu_ms();
    let started = Instant::now();
    for _ in 0..rounds {
        if batch == 1 {
            for s in SENTENCES {
                std::hint::black_box(model.embed(s, EmbedKind::Query));
            }
        } else {
            std::hint::black_box(model.embed_batch(&texts, EmbedKind::Query));
        }
    }
    let n = (if batch == 1 { rounds * SENTENCES.len() } else { rounds * batch }) as f64;
    (started.elapsed().as_secs_f64() * 1000.0 / n, (cpu_ms() - cpu) / n)
}

fn report(what: &str, (wall, cpu): (f64, f64)) {
    println!("{what:<28} {wall:6.2} ms/sentence wall, {cpu:6.2} ms CPU");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let path = runtime.block_on(ModelStore::new(model_dir()).ensure())?;
    let (rss_before, _) = memory_mb();

    let started = Instant::now();
    let model = E5Model::load(&path)?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (rss_loaded, _) = memory_mb();
    println!("{:<28} {}", "model", path.display());
    println!("{:<28} {load_ms:6.1} ms, resident +{:.1} MB", "load", rss_loaded - rss_before);

    let threads = model.threads();
    let single = model.with_threads(1);
    per_sentence(&single, 2, 1);
    report("one by one (1 thread)", per_sentence(&single, 20, 1));
    report("batches of 64 (1 thread)", per_sentence(&single, 5, 64));
    let model = single.with_threads(threads);
    report(&format!("batches of 64 ({threads} threads)"), per_sentence(&model, 5, 64));

    let long = SENTENCES.join(" ").repeat(12);
    let tokens = model.token_count(&long, EmbedKind::Passage);
    let (cpu, started) = (cpu_ms(), Instant::now());
    std::hint::black_box(model.embed(&long, EmbedKind::Passage));
    let (wall, cpu) = (started.elapsed().as_secs_f64() * 1000.0, cpu_ms() - cpu);
    println!(
        "{:<28} {wall:6.1} ms wall, {cpu:6.1} ms CPU ({tokens} tokens)",
        format!("one passage ({threads} threads)")
    );

    let (rss, peak) = memory_mb();
    println!("{:<28} resident {rss:.1} MB, peak {peak:.1} MB", "memory");
    Ok(())
}
