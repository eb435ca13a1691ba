// What @grafana/data touches of a browser while it loads (its local store listens to "storage"
// events, react-use's css helper appends a <style>, its date formats ask navigator.language):
// inert stand-ins, so Node can load the library. None of them takes part in computing a value.
const element = () => ({ sheet: { insertRule() {}, cssRules: [] }, appendChild() {}, setAttribute() {}, style: {} });
globalThis.window = globalThis;
globalThis.addEventListener = () => {};
globalThis.removeEventListener = () => {};
globalThis.localStorage = { getItem: () => null, setItem() {}, removeItem() {} };
globalThis.document = {
  head: element(), body: element(), documentElement: element(), createElement: element,
  getElementsByTagName: () => [element()], querySelector: () => null, addEventListener() {},
};
globalThis.history = { pushState() {}, replaceState() {} };
globalThis.location = { href: 'http://localhost/', pathname: '/', search: '', hash: '' };
globalThis.navigator = globalThis.navigator || { language: 'en-US', languages: ['en-US'], userAgent: 'node' };
// stdout carries the JSON answer: what the libraries print (i18next's banner) goes to stderr.
console.log = console.info = (...args) => process.stderr.write(`${args.join(' ')}\n`);
