// Saved runs: every finished or stopped run is kept in this browser's IndexedDB (config,
// curves, final kNN and a copy of the weights), so it survives a reload and can be reopened,
// resumed, compared or deleted. Nothing leaves the machine.
import type { KnnDump, TermDump } from './charts';
import type { RunConfig, Snapshot } from './protocol';

export interface SavedCurves {
  loss: TermDump | null;
  ratio: TermDump | null;
  knn: KnnDump | null;
  collapse: TermDump | null;
}

export interface SavedRun {
  /** IndexedDB key; absent until first stored. */
  id?: number;
  savedAt: number;
  config: RunConfig;
  /** Name of the dataset the run trained on (for own images, the chosen folder's). */
  datasetName: string;
  /** Final-layer kNN accuracy at the last evaluation, in [0, 1]. */
  knn: number | null;
  step: number;
  curves: SavedCurves;
  snapshot: Snapshot;
  /** The imported images, for a run on them: without it the run could not be reopened. */
  pack?: Uint8Array;
}

const DB = 'ssl-playground';
const STORE = 'runs';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
  });
}

/** Run `body` in one transaction and resolve with its request's result once the transaction commits. */
async function tx<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const request = body(t.objectStore(STORE));
      t.oncomplete = () => resolve(request.result);
      t.onabort = t.onerror = () => reject(t.error ?? request.error ?? new Error('the IndexedDB transaction failed'));
    });
  } finally {
    db.close();
  }
}

/** Store `run` (a new record, or the same `id` replaced); resolves with its id. */
export function putRun(run: SavedRun): Promise<number> {
  return tx('readwrite', (s) => s.put(run)) as Promise<number>;
}

export function listRuns(): Promise<SavedRun[]> {
  return tx('readonly', (s) => s.getAll()) as Promise<SavedRun[]>;
}

export function getRun(id: number): Promise<SavedRun | undefined> {
  return tx('readonly', (s) => s.get(id)) as Promise<SavedRun | undefined>;
}

export function deleteRun(id: number): Promise<undefined> {
  return tx('readwrite', (s) => s.delete(id));
}

/** A readable reason for a failed save: a full disk or quota says so, and what to do. */
export function saveErrorText(e: unknown): string {
  const name = (e as { name?: string })?.name ?? '';
  if (name === 'QuotaExceededError') return "the browser's storage for this page is full; delete saved runs you no longer need, then stop or finish a run to save it again";
  return `${(e as Error)?.message ?? String(e)}`;
}

/** One line about a saved run: method, backbone, dataset, steps, kNN. */
export function runTitle(r: SavedRun): string {
  const knn = r.knn === null ? '–' : `${(r.knn * 100).toFixed(1)} %`;
  return `${r.config.method} · ${r.config.backbone} · ${r.datasetName} · step ${r.step}/${r.config.steps} · kNN ${knn}`;
}
