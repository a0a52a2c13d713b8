/**
 * Extracts what the crawler records from an HTML page while it streams in (htmlparser2, a real
 * tokenizer: comments, CDATA, entities and raw-text elements are handled as browsers do): the title,
 * links (`<a href>`, `<area href>`, resolved against `<base href>` or the page URL), and the length of
 * the visible text.
 */
import { Parser } from 'htmlparser2';
import { normalizeUrl } from './crawl-url.js';

/** Elements whose text is not shown as page text. */
const HIDDEN = new Set(['script', 'style', 'noscript', 'template', 'title', 'iframe', 'object']);

export interface HtmlFacts {
  title: string | null;
  /** Characters of visible text, each run of whitespace counted as one, leading and trailing ignored. */
  textLength: number;
  /** Absolute http(s) URLs without fragment, first occurrence order, no duplicates. */
  links: string[];
  linksTruncated: boolean;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export class HtmlExtractor {
  private readonly parser: Parser;
  private base: string;
  private baseSeen = false;
  private title: string | null = null;
  private titleBuffer: string | null = null;
  private hiddenDepth = 0;
  private svgDepth = 0;
  private textLength = 0;
  private pendingSpace = false;
  private readonly links: string[] = [];
  private readonly seen = new Set<string>();
  private linksTruncated = false;

  constructor(
    pageUrl: string,
    private readonly maxLinks: number,
  ) {
    this.base = pageUrl;
    this.parser = new Parser(
      {
        onopentag: (name, attribs) => this.open(name, attribs),
        onclosetag: (name) => this.close(name),
        ontext: (text) => this.text(text),
      },
      { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
    );
  }

  write(chunk: string): void {
    this.parser.write(chunk);
  }

  end(): HtmlFacts {
    this.parser.end();
    return { title: this.title, textLength: this.textLength, links: this.links, linksTruncated: this.linksTruncated };
  }

  private open(name: string, attribs: Record<string, string>): void {
    if (name === 'svg') this.svgDepth++;
    if (name === 'title' && this.title === null && this.svgDepth === 0) this.titleBuffer = '';
    if (HIDDEN.has(name)) this.hiddenDepth++;
    const href = attribs.href;
    if (href === undefined) return;
    if (name === 'base' && !this.baseSeen) {
      this.baseSeen = true;
      const resolved = normalizeUrl(href, this.base);
      if (resolved !== undefined) this.base = resolved;
    } else if (name === 'a' || name === 'area') {
      const link = normalizeUrl(href, this.base);
      if (link === undefined || this.seen.has(link)) return;
      if (this.links.length >= this.maxLinks) {
        this.linksTruncated = true;
        return;
      }
      this.seen.add(link);
      this.links.push(link);
    }
  }

  private close(name: string): void {
    if (name === 'svg' && this.svgDepth > 0) this.svgDepth--;
    if (HIDDEN.has(name) && this.hiddenDepth > 0) this.hiddenDepth--;
    if (name === 'title' && this.titleBuffer !== null) {
      this.title = collapse(this.titleBuffer);
      this.titleBuffer = null;
    }
  }

  private text(text: string): void {
    if (this.titleBuffer !== null) {
      this.titleBuffer += text;
      return;
    }
    if (this.hiddenDepth > 0) return;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0) {
        if (this.textLength > 0) this.pendingSpace = true;
      } else {
        if (this.pendingSpace) this.textLength++;
        this.pendingSpace = false;
        this.textLength++;
      }
    }
  }
}
