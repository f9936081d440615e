// The command registry: a frozen table of name → command.
import type { Command } from './main.js';
import { demoCommand } from './demo.js';
import { infoCommand } from './info.js';

export const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  demo: demoCommand,
  info: infoCommand,
});
