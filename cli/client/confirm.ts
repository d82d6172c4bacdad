/** A yes/no question before something that cannot be undone (`delete`), asked only on a terminal. */
import { createInterface } from "node:readline";
import { Interrupted } from "./follow.ts";

/**
 * Asks `question` on `output` and reads one line from `input`: true for y or yes, false for anything
 * else or the end of input; Ctrl-C rejects with Interrupted.
 */
export function confirm(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<boolean> {
  const rl = createInterface({ input, output });
  return new Promise<boolean>((resolve, reject) => {
    // On a terminal readline takes Ctrl-C for itself; without this it would only pause the input.
    rl.on("SIGINT", () => {
      output.write("\n");
      reject(new Interrupted());
      rl.close();
    });
    rl.on("close", () => resolve(false));
    rl.question(`${question} [y/N] `, (answer) => {
      resolve(/^y(es)?$/i.test(answer.trim()));
      rl.close();
    });
  });
}
