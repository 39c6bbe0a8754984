import type { Command } from "../cli";
import { bench } from "./bench";
import { convert } from "./convert";
import { decodeCommand } from "./decode";
import { doctor } from "./doctor";
import { evalCommand } from "./evalCommand";
import { models } from "./models";
import { queueCommand } from "./queue";
import { sampleCommand } from "./sample";
import { trainBase } from "./trainBase";
import { trainClassifier } from "./trainClassifier";
import { trainRefiner } from "./trainRefiner";

/** Every command of the CLI, in help order. */
export const COMMANDS: readonly Command[] = [
  sampleCommand,
  decodeCommand,
  convert,
  models,
  evalCommand,
  queueCommand,
  bench,
  doctor,
  trainBase,
  trainRefiner,
  trainClassifier,
];
