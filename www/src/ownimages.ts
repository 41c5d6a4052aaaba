// Your own images: turn what the user chose (a folder picker's files, loose files, a dropped
// folder) into paths relative to the chosen folder, the layout the Rust importer reads: the
// first folder names the class (torchvision's ImageFolder). A `.zip` keeps its own paths.
import type { ImportFile } from './protocol';

/** Drop the first path part: the folder the user chose (`pets/cats/1.png` → `cats/1.png`). */
export function underRoot(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length > 1 ? parts.slice(1).join('/') : parts.join('/');
}

/** Files from an `<input type=file>`: with `webkitdirectory` they carry the folder in `webkitRelativePath`. */
export function filesFromInput(files: FileList | File[]): ImportFile[] {
  return Array.from(files, (file) => {
    const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
    return { path: relative ? underRoot(relative) : file.name, file };
  });
}

/** Every file under a dropped entry, with its path from the drop (`/pets/cats/1.png`). */
async function walk(entry: FileSystemEntry, out: { path: string; file: File }[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path: entry.fullPath.replace(/^\//, ''), file });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns at most ~100 entries per call; call it until it returns none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const child of batch) await walk(child, out);
  }
}

/**
 * Files from a drop. One dropped folder is the root (its subfolders are the classes); several
 * dropped folders are each a class; loose files keep their names (no class) unless they are zips.
 */
export async function filesFromDrop(transfer: DataTransfer): Promise<ImportFile[]> {
  const entries = Array.from(transfer.items)
    .map((item) => item.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return filesFromInput(transfer.files);
  const found: { path: string; file: File }[] = [];
  for (const entry of entries) await walk(entry, found);
  const folders = entries.filter((e) => e.isDirectory).length;
  const oneRoot = folders === 1 && entries.length === 1;
  return found.map(({ path, file }) => ({ path: oneRoot ? underRoot(path) : path, file }));
}

/** A short name for the imported set: the chosen folder's, else the first file's. */
export function importName(files: FileList | File[] | null, fallback: string): string {
  const first = files && files.length > 0 ? (files[0] as File & { webkitRelativePath?: string }) : null;
  const root = first?.webkitRelativePath?.split('/')[0];
  return (root || first?.name.replace(/\.zip$/i, '') || fallback).slice(0, 60);
}
