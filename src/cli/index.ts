/** The command-line edge: one file per command group, text and --json renderers, exit codes. */
export { main, buildProgram } from './main.js';
