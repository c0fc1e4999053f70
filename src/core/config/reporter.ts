/**
 * The one place problems are written: every pass reports through a {@link Reporter}, which turns a JSON
 * path and a node into a {@link ConfigProblem} (file, line, column, field, message, severity).
 */
import type { ConfigProblem, EngineSpec, LoadResult, SourceRange } from '../model';
import { LineMap, formatPath, type JsonNode, type PathSegment } from './jsonTree';

export const FILE_START: SourceRange = { offset: 0, length: 0, line: 1, column: 1, endLine: 1, endColumn: 1 };

/** A problem with the file as a whole (missing, unreadable, too large), at its start. */
export function fileProblem(file: string, message: string): ConfigProblem {
  return { file, field: '', message, severity: 'error', range: FILE_START };
}

export class Reporter {
  private readonly problems: ConfigProblem[] = [];
  /** The problems reported so far, to say each once: the replicas of a group are built from one text. */
  private readonly seen = new Set<string>();
  private readonly lines: LineMap;

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.lines = new LineMap(text);
  }

  error(segments: readonly PathSegment[], where: JsonNode | SourceRange, message: string): void {
    this.add('error', segments, where, message);
  }

  warning(segments: readonly PathSegment[], where: JsonNode | SourceRange, message: string): void {
    this.add('warning', segments, where, message);
  }

  /** How many problems are reported so far; with {@link problemsSince}, what one pass reported. */
  get count(): number {
    return this.problems.length;
  }

  problemsSince(start: number): readonly ConfigProblem[] {
    return this.problems.slice(start);
  }

  range(offset: number, length: number): SourceRange {
    return this.lines.range(offset, length);
  }

  nodeRange(node: JsonNode): SourceRange {
    return this.lines.range(node.offset, node.length);
  }

  /** The 1-based line a node starts on, for messages that point at another place ("(line 12)"). */
  line(node: JsonNode): number {
    return this.lines.position(node.offset).line;
  }

  /** The problems in file order; a config only when there is no error (warnings allowed). */
  result(workspaceFolder: string, engines: readonly EngineSpec[] | undefined): LoadResult {
    const problems = [...this.problems].sort((a, b) => a.range.offset - b.range.offset);
    const ok = engines !== undefined && !problems.some((p) => p.severity === 'error');
    return ok ? { config: { file: this.file, workspaceFolder, engines }, problems } : { problems };
  }

  private add(
    severity: ConfigProblem['severity'],
    segments: readonly PathSegment[],
    where: JsonNode | SourceRange,
    message: string,
  ): void {
    const range = 'type' in where ? this.problemRange(where) : where;
    const field = formatPath(segments);
    const key = `${severity}\0${range.offset}\0${range.length}\0${field}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.problems.push({ file: this.file, field, message, severity, range });
  }

  /**
   * Where to put a problem about a node: the node itself, except that a multi-line object or array is
   * marked by its property key (or its first character) rather than squiggled whole.
   */
  private problemRange(node: JsonNode): SourceRange {
    if (node.type === 'object' || node.type === 'array') {
      const range = this.nodeRange(node);
      if (range.endLine > range.line) {
        const key = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
        return key ? this.nodeRange(key) : this.lines.range(node.offset, 1);
      }
      return range;
    }
    return this.nodeRange(node);
  }
}
