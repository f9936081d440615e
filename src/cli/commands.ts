// The command registry: a frozen table of name → command.
import type { Command } from './main.js';
import { demoCommand } from './demo.js';
import { infoCommand } from './info.js';
import { trainCommand } from './train.js';
import { poisonCommand } from './poison.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';
import { attackCommand } from './attack.js';
import { serveCommand } from './serve.js';
import { reportCommand } from './report.js';
import { experimentCommand } from './experiment.js';
import { protectCommand } from './protect.js';
import { importCommand } from './import.js';
import { checkCommand } from './check.js';

export const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  demo: demoCommand,
  train: trainCommand,
  poison: poisonCommand,
  evaluate: evaluateCommand,
  info: infoCommand,
  export: exportCommand,
  attack: attackCommand,
  serve: serveCommand,
  report: reportCommand,
  experiment: experimentCommand,
  protect: protectCommand,
  import: importCommand,
  check: checkCommand,
});
