import { useEffect, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

export function ConfirmDialog({
  open,
  message,
  onConfirm,
  onCancel,
  busy,
}: {
  open: boolean;
  message: ReactNode;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
}) {
  const { t } = useTranslation();
  const okRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) okRef.current?.focus();
  }, [open]);
  if (!open) return null;
  return (
    <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-msg" data-testid="confirm-dialog">
        <p id="confirm-msg">{message}</p>
        <div className="modal-buttons">
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button type="button" ref={okRef} className="btn btn-danger" onClick={onConfirm} disabled={busy}>
            {t('common.execute')}
          </button>
        </div>
      </div>
    </div>
  );
}
