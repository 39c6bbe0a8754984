export { type Command, type CommandContext, EXIT, runCli, UsageError } from "./cli";
export { COMMANDS } from "./commands";
