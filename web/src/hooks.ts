import { useEffect, useState } from 'react';
import type { AnyCollection } from './api/client';

/** Every item of a collection, for selects and checklists; [] while loading or when not permitted. */
export function useAll<T extends { id: number | string }>(coll: AnyCollection<T>, enabled = true): T[] {
  const [items, setItems] = useState<T[]>([]);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    coll
      .all()
      .then((x) => live && setItems(x))
      .catch(() => live && setItems([]));
    return () => {
      live = false;
    };
  }, [coll, enabled]);
  return items;
}
