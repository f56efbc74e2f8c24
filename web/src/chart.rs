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

/// The business's liability over a period, from the day totals: the closing balance of every
/// wallet of the currency as a line (top), and each day's volume below it, credits up and debits
/// down from a middle line.
pub fn liability_chart(
    currency: Currency,
    days: &[shared::reports::model::LiabilityDay],
) -> Markup {
    const TOP: f64 = 130.0;
    const VOLUME: f64 = 70.0;
    let height = TOP + VOLUME + PAD;
    let label = format!(
        "{} liability per day from {} to {}: closing balance (line) and volume (bars, credits up, debits down)",
        currency.code(),
        days.first().map_or("", |d| d.day.as_str()),
        days.last().map_or("", |d| d.day.as_str()),
    );
    if days.is_empty() {
        return html! { p.muted { "No days in this period." } };
    }
    let n = days.len() as f64;
    let step = (WIDTH - 2.0 * PAD) / n;
    let x = |i: usize| PAD + (i as f64 + 0.5) * step;
    let high = days
        .iter()
        .map(|d| d.closing_balance)
        .max()
        .unwrap_or(0)
        .max(1);
    let low = days
        .iter()
        .map(|d| d.closing_balance)
        .min()
        .unwrap_or(0)
        .min(0);
    let y = |v: i64| TOP - PAD / 2.0 - (v - low) as f64 / (high - low).max(1) as f64 * (TOP - PAD);
    let moved = days
        .iter()
        .map(|d| d.credits.max(d.debits))
        .max()
        .unwrap_or(0)
        .max(1);
    let middle = TOP + VOLUME / 2.0;
    let bar = |v: i64| v as f64 / moved as f64 * (VOLUME / 2.0 - 2.0);
    let mut line = String::new();
    for (i, day) in days.iter().enumerate() {
        let command = if i == 0 { 'M' } else { 'L' };
        line.push_str(&format!(
            "{command}{:.1},{:.1} ",
            x(i),
            y(day.closing_balance)
        ));
    }
    let width = (step * 0.35).max(1.0);
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (height)} role="img" aria-label=(label)
            xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            path d=(line.trim_end()) fill="none" stroke="#0b5cad" stroke-width="2" {}
            line x1=(PAD) y1=(middle) x2=(WIDTH - PAD) y2=(middle) stroke="#d0d7de" stroke-width="1" {}
            @for (i, day) in days.iter().enumerate() {
                @if day.credits > 0 {
                    rect x=(x(i) - width) y=(middle - bar(day.credits)) width=(width) height=(bar(day.credits)) fill="#1a7f37" {}
                }
                @if day.debits > 0 {
                    rect x=(x(i)) y=(middle) width=(width) height=(bar(day.debits)) fill="#b42318" {}
                }
            }
            text x="4" y=(PAD - 8.0) font-size="12" fill="#59636e" { (crate::money::show(high, currency)) }
            text x="4" y=(TOP - 4.0) font-size="12" fill="#59636e" { (crate::money::show(low, currency)) }
            text x="4" y=(height - 4.0) font-size="12" fill="#59636e" { "volume, largest day " (crate::money::show(moved, currency)) }
        }
    }
}
