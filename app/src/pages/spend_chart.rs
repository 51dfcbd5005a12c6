//! The daily spend chart: drawn by ECharts (through charming) once the page is hydrated, with
//! its figures also in a table, which is what a browser without JavaScript shows.

use charming::component::{Axis, Grid};
use charming::element::{AxisType, Tooltip, Trigger};
use charming::series::Bar;
use charming::Chart;
use leptos::prelude::*;

use crate::model::{format_usd, micros_to_dollars, DailySpend};

/// The element ECharts draws into.
pub const DAILY_SPEND_CHART_ID: &str = "daily-spend-chart";

/// The chart's definition: one bar per day, in dollars.
pub fn daily_spend_chart(days: &[DailySpend]) -> Chart {
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left(64).right(16).top(32).bottom(32))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(days.iter().map(|day| day.day.clone()).collect()),
        )
        .y_axis(Axis::new().type_(AxisType::Value).name("USD"))
        .series(
            Bar::new().name("Spend (USD)").data(
                days.iter()
                    .map(|day| micros_to_dollars(day.spend_micros))
                    .collect(),
            ),
        )
}

#[component]
pub fn DailySpendChart(days: Vec<DailySpend>) -> impl IntoView {
    let total: i64 = days.iter().map(|day| day.spend_micros).sum();
    let requests: i64 = days.iter().map(|day| day.requests).sum();
    #[cfg(feature = "hydrate")]
    {
        let chart = daily_spend_chart(&days);
        // After a client-side navigation the view is mounted after effects run: draw on the
        // next frame, when the element is in the document.
        Effect::new(move |_| {
            let chart = chart.clone();
            request_animation_frame(move || {
                crate::pages::charts::draw(DAILY_SPEND_CHART_ID, &chart, 240)
            });
        });
    }
    view! {
        <figure class="chart" data-testid="daily-spend">
            <figcaption>
                {format!(
                    "{} across {requests} {} in the last {} days",
                    format_usd(total),
                    if requests == 1 { "request" } else { "requests" },
                    days.len(),
                )}
            </figcaption>
            <div id=DAILY_SPEND_CHART_ID class="chart-canvas"></div>
            <table class="chart-data">
                <thead><tr><th>"Day (UTC)"</th><th class="num">"Spend"</th><th class="num">"Requests"</th></tr></thead>
                <tbody>
                    {days.into_iter().rev().map(|day| view! {
                        <tr data-day=day.day.clone() data-spend-micros=day.spend_micros>
                            <td>{day.day.clone()}</td>
                            <td class="num">{format_usd(day.spend_micros)}</td>
                            <td class="num">{day.requests}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_day_in_dollars() {
        let days = vec![
            DailySpend {
                day: "2026-11-23".into(),
                spend_micros: 0,
                requests: 0,
            },
            DailySpend {
                day: "2026-11-24".into(),
                spend_micros: 1_250_000,
                requests: 3,
            },
        ];
        let option = serde_json::to_value(daily_spend_chart(&days)).unwrap();
        assert_eq!(
            option["xAxis"]["data"],
            serde_json::json!(["2026-11-23", "2026-11-24"])
        );
        assert_eq!(option["series"][0]["type"], "bar");
        assert_eq!(option["series"][0]["data"], serde_json::json!([0.0, 1.25]));
    }
}
