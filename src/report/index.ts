// `gue report`: static HTML reports of experiments, generator training runs and victim evaluations
// (the paper-style tables and figures of GUE, AAAI 2024). inputs.ts reads, plan.ts decides what to show,
// render.ts draws it (Observable Plot → static SVG).
export { loadReportInput, loadReportInputs, ReportInputError } from './inputs.js';
export type { ReportInput, ExperimentInput, ExperimentRow, TrainInput, EvaluateInput, StepRecord, ProxyRecord } from './inputs.js';
export { planReport, planItems, varyingDims, settingOf, trainCommandLine, evaluateCommandLine, shellArg } from './plan.js';
export type { ReportPlan, Section, Item, LineFigure, GridFigure, TableFigure, Series, PlanOptions } from './plan.js';
export { renderReport } from './render.js';
export { movingAverage, autoWindow, bucket } from './series.js';

import { loadReportInputs } from './inputs.js';
import { planReport, type PlanOptions, type ReportPlan } from './plan.js';
import { renderReport } from './render.js';

/** Reads the inputs and returns the page and its plan. */
export function buildReport(paths: string[], opts: PlanOptions = {}): { html: string; plan: ReportPlan } {
  const plan = planReport(loadReportInputs(paths), opts);
  return { html: renderReport(plan), plan };
}
