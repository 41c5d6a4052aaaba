// The page: the playground drawn into index.html's #app, its settings in the address bar, so a
// link reproduces the run. The browser test and a curious user read its state as `__sslp`.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import markup from './markup.html?raw';
import { mountPlayground, type DebugState } from './app';

const frame = document.getElementById('app')!;
frame.innerHTML = markup;
const playground = mountPlayground(document, {
  search: location.search,
  frame,
  assetBase: document.baseURI,
  linkFor: (query) => `${location.origin}${location.pathname}${query}`,
  showLink: (query) => history.replaceState(null, '', `${location.pathname}${query}`),
});

const hooks = window as unknown as {
  __sslp: DebugState;
  __sslpSimulateDeviceLoss: () => void;
  __sslpKillWorker: () => void;
  __sslpMapPoint: (i: number) => [number, number] | null;
};
hooks.__sslp = playground.debug;
hooks.__sslpSimulateDeviceLoss = playground.simulateDeviceLoss;
hooks.__sslpKillWorker = playground.killWorker;
hooks.__sslpMapPoint = playground.mapPoint;
