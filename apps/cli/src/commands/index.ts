import type { Command } from "../cli";
import { convert } from "./convert";
import { doctor } from "./doctor";

/** Every command of the CLI, in help order. */
export const COMMANDS: readonly Command[] = [convert, doctor];
