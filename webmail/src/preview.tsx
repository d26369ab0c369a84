import { useEffect, useRef, useState } from 'preact/hooks';
import { EmailBodyPart, Jmap } from './api';
import { t } from './i18n';

/** Attachment preview (4.1.6) in the page: images, PDF (pdf.js, bundled, its worker a file of this origin) and text. */
export function Preview(props: { jmap: Jmap; part: EmailBodyPart; onClose: () => void }) {
  const { jmap, part } = props;
  const [imageUrl, setImageUrl] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pages = useRef<HTMLDivElement>(null);
  const isPdf = part.type === 'application/pdf' || /\.pdf$/i.test(part.name ?? '');
  const isImage = part.type.startsWith('image/');

  useEffect(() => {
    let cancelled = false;
    let url: string | null = null;
    (async () => {
      try {
        if (isImage) {
          url = await jmap.blobUrl(part.blobId!, part.name ?? 'image', part.type);
          if (!cancelled) setImageUrl(url);
        } else if (isPdf) {
          const [pdfjs, worker] = await Promise.all([import('pdfjs-dist'), import('pdfjs-dist/build/pdf.worker.min.mjs?url')]);
          pdfjs.GlobalWorkerOptions.workerSrc = worker.default;
          const data = new Uint8Array(await jmap.blobBytes(part.blobId!, part.name ?? 'file.pdf', 'application/pdf'));
          const doc = await pdfjs.getDocument({ data, isEvalSupported: false }).promise;
          for (let n = 1; n <= Math.min(doc.numPages, 50) && !cancelled; n++) {
            const page = await doc.getPage(n);
            const viewport = page.getViewport({ scale: 1.3 });
            const canvas = document.createElement('canvas');
            canvas.width = viewport.width;
            canvas.height = viewport.height;
            canvas.dataset.testid = 'pdf-page';
            pages.current?.appendChild(canvas);
            await page.render({ canvas, canvasContext: canvas.getContext('2d')!, viewport }).promise;
          }
        } else {
          const bytes = await jmap.blobBytes(part.blobId!, part.name ?? 'file.txt', part.type);
          if (!cancelled) setText(new TextDecoder(part.charset ?? 'utf-8').decode(bytes.slice(0, 2 * 1024 * 1024)));
        }
      } catch (e) {
        if (!cancelled) setError(String(e));
      }
    })();
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [part.blobId]);

  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="preview" data-testid="preview-window">
        <div class="settings-head">
          <strong>{part.name}</strong>
          <button class="icon" title={t('preview.close')} onClick={props.onClose}>✕</button>
        </div>
        <div class="preview-body">
          {error && <div class="error">{error}</div>}
          {imageUrl && <img src={imageUrl} alt={part.name ?? ''} data-testid="preview-image" />}
          {text !== null && <pre data-testid="preview-text">{text}</pre>}
          {isPdf && <div ref={pages} class="pdf-pages" />}
        </div>
      </div>
    </div>
  );
}
