import { STATUS_STYLE, type Status } from '../status.js';

export function StatusBadge({ status }: { status: Status }) {
  const s = STATUS_STYLE[status];
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      <span className="dot" style={{ background: s.color }} aria-hidden="true" />
      {s.label}
    </span>
  );
}
