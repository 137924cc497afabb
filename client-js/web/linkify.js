// Message text as DOM nodes: plain text, with http(s) links made clickable.
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]]+$/;

/** Text and `<a>` nodes for `text`; only http and https become links. */
export function linkified(text) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0].replace(TRAILING, "");
    let parsed = null;
    try {
      parsed = new URL(url);
    } catch {
      // not a URL after all: left as text
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) continue;
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    const link = document.createElement("a");
    link.href = parsed.href;
    link.textContent = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    nodes.push(link);
    at = match.index + url.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}
