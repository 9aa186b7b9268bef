import { readFile } from 'node:fs/promises';

export interface JunitSummary {
  tests: number;
  failures: number;
  skipped: number;
  /** Names of failed test cases, with the first line of their message. */
  failed: string[];
  /** Names of skipped test cases. */
  skippedNames: string[];
}

/** Counts test cases in a JUnit XML report (every <testcase>, whatever the nesting). */
export async function readJunit(file: string): Promise<JunitSummary> {
  const xml = await readFile(file, 'utf8');
  const cases = xml.split(/<testcase\b/).slice(1);
  const summary: JunitSummary = { tests: cases.length, failures: 0, skipped: 0, failed: [], skippedNames: [] };
  for (const c of cases) {
    const body = c.split(/<\/testcase>/)[0] ?? c;
    if (/<(failure|error)\b/.test(body)) {
      summary.failures++;
      const name = /name="([^"]*)"/.exec(body)?.[1] ?? '?';
      const message = /<(?:failure|error)[^>]*message="([^"]*)"/.exec(body)?.[1] ?? '';
      summary.failed.push(`${name}: ${message.split('\n')[0]}`);
    } else if (/<skipped\b/.test(body)) {
      summary.skipped++;
      summary.skippedNames.push(/name="([^"]*)"/.exec(body)?.[1] ?? '?');
    }
  }
  return summary;
}
