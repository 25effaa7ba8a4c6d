-- Why a journaled message ended `failed` when the platform refused what
-- answering it needed (e.g. a 403 on opening its thread); NULL otherwise.
ALTER TABLE journal ADD COLUMN failure_reason TEXT;
