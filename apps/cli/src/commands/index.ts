import type { Command } from "../cli";
import { convert } from "./convert";
import { doctor } from "./doctor";
import { sampleCommand } from "./sample";

/** Every command of the CLI, in help order. */
export const COMMANDS: readonly Command[] = [sampleCommand, convert, doctor];
