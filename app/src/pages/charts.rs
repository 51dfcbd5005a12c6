//! Spend charts: charming definitions built from report rows (the same rows the page shows as
//! tables, so the figures read without JavaScript), drawn by ECharts once hydrated.

use charming::component::{Axis, Grid, Legend};
use charming::element::{AxisType, Tooltip, Trigger};
use charming::series::{Bar, Line, Pie};
use charming::Chart;
use leptos::prelude::*;

use crate::model::micros_to_dollars;
use crate::model::reports::{BudgetLine, ReportRow};

/// The groups of `rows` in order of first appearance, as (key, label).
fn groups(rows: &[ReportRow]) -> Vec<(String, String)> {
    let mut groups: Vec<(String, String)> = Vec::new();
    for row in rows {
        if !groups.iter().any(|(key, _)| *key == row.group_key) {
            groups.push((row.group_key.clone(), row.label.clone()));
        }
    }
    groups
}

fn dollars_of(rows: &[ReportRow], period: &str, group: &str) -> f64 {
    rows.iter()
        .filter(|row| row.period == period && row.group_key == group)
        .map(|row| micros_to_dollars(row.cost_micros))
        .sum()
}

fn category_axis(periods: &[String]) -> Axis {
    Axis::new().type_(AxisType::Category).data(periods.to_vec())
}

/// Spend per period, one stacked bar series per group.
pub fn stacked_bars(periods: &[String], rows: &[ReportRow]) -> Chart {
    let mut chart = Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().bottom(0))
        .grid(Grid::new().left(64).right(16).top(24).bottom(56))
        .x_axis(category_axis(periods))
        .y_axis(Axis::new().type_(AxisType::Value).name("USD"));
    for (key, label) in groups(rows) {
        chart = chart.series(
            Bar::new().name(label).stack("spend").data(
                periods
                    .iter()
                    .map(|period| dollars_of(rows, period, &key))
                    .collect::<Vec<f64>>(),
            ),
        );
    }
    chart
}

/// Total spend per period as a line (a time series).
pub fn spend_line(periods: &[String], rows: &[ReportRow]) -> Chart {
    let totals: Vec<f64> = periods
        .iter()
        .map(|period| {
            rows.iter()
                .filter(|row| row.period == *period)
                .map(|row| micros_to_dollars(row.cost_micros))
                .sum()
        })
        .collect();
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left(64).right(16).top(24).bottom(32))
        .x_axis(category_axis(periods))
        .y_axis(Axis::new().type_(AxisType::Value).name("USD"))
        .series(Line::new().name("Spend").data(totals))
}

/// Spend accumulated over the range against each budget's limit (a flat line per budget).
pub fn budget_lines(periods: &[String], rows: &[ReportRow], budgets: &[BudgetLine]) -> Chart {
    let mut running = 0.0;
    let cumulative: Vec<f64> = periods
        .iter()
        .map(|period| {
            running += rows
                .iter()
                .filter(|row| row.period == *period)
                .map(|row| micros_to_dollars(row.cost_micros))
                .sum::<f64>();
            running
        })
        .collect();
    let mut chart = Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().bottom(0))
        .grid(Grid::new().left(64).right(16).top(24).bottom(56))
        .x_axis(category_axis(periods))
        .y_axis(Axis::new().type_(AxisType::Value).name("USD"))
        .series(Line::new().name("Spend so far").data(cumulative));
    for budget in budgets {
        chart = chart.series(
            Line::new()
                .name(format!("Budget: {}", budget.label))
                .data(vec![micros_to_dollars(budget.max_micros); periods.len()]),
        );
    }
    chart
}

/// Spend per group as a donut.
pub fn donut(rows: &[ReportRow]) -> Chart {
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .legend(Legend::new().bottom(0))
        .series(
            Pie::new().name("Spend").radius(vec!["40%", "70%"]).data(
                rows.iter()
                    .map(|row| (micros_to_dollars(row.cost_micros), row.label.as_str()))
                    .collect::<Vec<(f64, &str)>>(),
            ),
        )
}

/// An element ECharts draws `chart` into after hydration (`data-drawn` once drawn). Without
/// JavaScript, or without the ECharts script, the page's tables carry the same figures.
#[component]
pub fn EChart(id: &'static str, chart: Chart, #[prop(default = 280)] height: u32) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        // After a client-side navigation the view is mounted after effects run: draw on the
        // next frame, when the element is in the document.
        Effect::new(move |_| {
            let chart = chart.clone();
            request_animation_frame(move || draw(id, &chart, height));
        });
    }
    // Server-side only the element is rendered; the figures are in the page's tables.
    #[cfg(not(feature = "hydrate"))]
    let _ = (chart, height);
    view! { <div id=id class="chart-canvas" data-chart=id></div> }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// ECharts' `echarts.dispose(element)`: forgets the chart drawn into the element before.
    #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
    fn dispose_chart(element: &wasm_bindgen::JsValue);
}

/// Draws a chart into the element `id` and marks it drawn. A chart drawn there before (the
/// element survives a client-side navigation) is disposed first: drawing over it would merge
/// the old series into the new chart.
#[cfg(feature = "hydrate")]
pub fn draw(id: &str, chart: &Chart, height: u32) {
    use charming::WasmRenderer;

    if window().get("echarts").is_none() {
        leptos::logging::warn!("ECharts is not loaded; charts show as tables only");
        return;
    }
    if let Some(element) = document().get_element_by_id(id) {
        dispose_chart(element.as_ref());
    }
    match WasmRenderer::new_opt(None, Some(height)).render(id, chart) {
        Ok(_) => {
            if let Some(element) = document().get_element_by_id(id) {
                // Only the test marker depends on this attribute.
                let _ = element.set_attribute("data-drawn", "true");
            }
        }
        Err(error) => leptos::logging::warn!("the chart {id} could not be drawn: {error:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(period: &str, group: &str, cost_micros: i64) -> ReportRow {
        ReportRow {
            period: period.into(),
            group_key: group.into(),
            label: format!("label {group}"),
            cost_micros,
            ..ReportRow::default()
        }
    }

    #[test]
    fn stacked_bars_fill_empty_periods_with_zero() {
        let periods = vec!["d1".to_string(), "d2".to_string()];
        let rows = vec![row("d1", "a", 1_500_000), row("d2", "b", 250_000)];
        let option = serde_json::to_value(stacked_bars(&periods, &rows)).unwrap();
        let series = option["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["name"], "label a");
        assert_eq!(series[0]["stack"], "spend");
        assert_eq!(series[0]["data"], serde_json::json!([1.5, 0.0]));
        assert_eq!(series[1]["data"], serde_json::json!([0.0, 0.25]));
    }

    #[test]
    fn budget_lines_accumulate_spend() {
        let periods = vec!["d1".to_string(), "d2".to_string()];
        let rows = vec![row("d1", "a", 1_000_000), row("d2", "a", 2_000_000)];
        let budget = BudgetLine {
            subject: "project:p".into(),
            label: "P".into(),
            max_micros: 5_000_000,
            spend_micros: 3_000_000,
            duration: None,
        };
        let option = serde_json::to_value(budget_lines(&periods, &rows, &[budget])).unwrap();
        assert_eq!(option["series"][0]["data"], serde_json::json!([1.0, 3.0]));
        assert_eq!(option["series"][1]["data"], serde_json::json!([5.0, 5.0]));
    }

    #[test]
    fn donut_names_each_slice() {
        let option = serde_json::to_value(donut(&[row("m", "openai", 2_000_000)])).unwrap();
        assert_eq!(option["series"][0]["type"], "pie");
        assert_eq!(
            option["series"][0]["data"][0],
            serde_json::json!({"value": 2.0, "name": "label openai"})
        );
    }
}
