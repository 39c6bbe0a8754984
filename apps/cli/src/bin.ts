#!/usr/bin/env node
import { runCli } from "./cli";
import { COMMANDS } from "./commands";

process.exitCode = await runCli(process.argv.slice(2), COMMANDS);
