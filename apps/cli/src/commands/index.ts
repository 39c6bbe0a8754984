import type { Command } from "../cli";
import { convert } from "./convert";
import { decodeCommand } from "./decode";
import { doctor } from "./doctor";
import { models } from "./models";
import { sampleCommand } from "./sample";

/** Every command of the CLI, in help order. */
export const COMMANDS: readonly Command[] = [sampleCommand, decodeCommand, convert, models, doctor];
