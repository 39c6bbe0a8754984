import type { Command } from "../cli";
import { doctor } from "./doctor";

/** Every command of the CLI, in help order. */
export const COMMANDS: readonly Command[] = [doctor];
