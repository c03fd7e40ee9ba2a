/** What Powertools published, read from its EMF lines, against the metrics catalogue (lib/metrics.ts). */
import type { FunctionName } from '../../lib/log.ts';
import { metricsOf } from '../../lib/metrics.ts';

interface EmfLine {
  _aws?: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string; Unit: string }> }> };
}

/** Every metric (name and unit) in the EMF lines of `output` (captured JSON lines, or their text). */
export function publishedMetrics(output: string | Array<Record<string, unknown>>): Array<{ name: string; unit: string }> {
  const lines =
    typeof output === 'string'
      ? output
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line))
      : output;
  return (lines as EmfLine[]).flatMap(
    (line) => line._aws?.CloudWatchMetrics.flatMap((set) => set.Metrics.map((m) => ({ name: m.Name, unit: m.Unit }))) ?? [],
  );
}

/** The published metrics the catalogue does not list for `functionName` in that unit: [] when it publishes only its own. */
export function uncatalogued(functionName: FunctionName, published: Array<{ name: string; unit: string }>) {
  const catalogue = metricsOf(functionName);
  return published.filter((metric) => catalogue[metric.name] !== metric.unit);
}
