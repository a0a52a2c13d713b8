import { useState } from 'react';

/**
 * Text from a job (a log line, an error) as a text node, cut at `limit` characters with a button to
 * show the rest, so one huge line cannot swamp the page.
 */
export function LongText({ text, limit = 2000, className }: { text: string; limit?: number; className?: string }) {
  const [all, setAll] = useState(false);
  if (text.length <= limit || all) return <span className={className}>{text}</span>;
  return (
    <span className={className}>
      {text.slice(0, limit)}
      <button type="button" className="link-button" onClick={() => setAll(true)}>
        … show {new Intl.NumberFormat('en-US').format(text.length - limit)} more characters
      </button>
    </span>
  );
}
