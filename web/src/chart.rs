//! A wallet's balance over time, drawn on the server as SVG from its ledger entries (each
//! entry's balance after it, at its time): a step line, with the lowest and highest balance
//! labelled. No script, no library; an accessible name says what it shows.

use maud::{html, Markup};
use shared::kernel::Currency;
use shared::ledger::model::LedgerEntry;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 24.0;

/// The chart of `entries` (any order) of one currency; empty entries draw a note instead.
pub fn balance_chart(currency: Currency, entries: &[&LedgerEntry]) -> Markup {
    let mut points: Vec<(u64, i64)> = entries
        .iter()
        .map(|e| (e.created_at.unix_ms, e.after_balance))
        .collect();
    points.sort_by_key(|(at, _)| *at);
    let label = format!(
        "Balance of the {} wallet over its last {} entries",
        currency.code(),
        points.len()
    );
    if points.is_empty() {
        return html! { p.muted { "No entries yet in " (currency.code()) "." } };
    }
    // The balance before the first entry shown starts the line.
    let first = entries
        .iter()
        .min_by_key(|e| e.customer_seq)
        .expect("not empty");
    points.insert(
        0,
        (
            first.created_at.unix_ms.saturating_sub(1),
            first.before_balance,
        ),
    );
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let low = points.iter().map(|p| p.1).min().unwrap_or(0).min(0);
    let high = points.iter().map(|p| p.1).max().unwrap_or(0).max(low + 1);
    let x = |t: u64| PAD + (t - t0) as f64 / (t1 - t0).max(1) as f64 * (WIDTH - 2.0 * PAD);
    let y = |v: i64| HEIGHT - PAD - (v - low) as f64 / (high - low) as f64 * (HEIGHT - 2.0 * PAD);
    let mut path = format!("M{:.1},{:.1}", x(points[0].0), y(points[0].1));
    for pair in points.windows(2) {
        let (at, value) = pair[1];
        path.push_str(&format!(" H{:.1} V{:.1}", x(at), y(value)));
    }
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(label)
            xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            line x1=(PAD) y1=(y(0)) x2=(WIDTH - PAD) y2=(y(0)) stroke="#d0d7de" stroke-width="1" {}
            path d=(path) fill="none" stroke="#0b5cad" stroke-width="2" {}
            text x="4" y=(PAD - 8.0) font-size="12" fill="#59636e" { (crate::money::show(high, currency)) }
            text x="4" y=(HEIGHT - 6.0) font-size="12" fill="#59636e" { (crate::money::show(low, currency)) }
        }
    }
}
