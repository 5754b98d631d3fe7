// Builds DOM from data with textContent only: nothing a user typed or a platform sent is ever
// parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'text') node.textContent = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function show(id, ...children) {
  const node = clear(document.getElementById(id));
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const STATES = {
  pending_review: '待审核', approved: '已批准', rejected: '已退回', queued: '排队中',
  scheduled: '已定时', publishing: '发布中', published: '已发布', partially_failed: '部分失败',
  failed: '失败', retracted: '已撤回', withdrawn: '已撤回', dead: '死信', cancelled: '已取消',
  pending: '处理中', unsupported: '平台不支持',
};
export function stateText(state) {
  return STATES[state] ? `${STATES[state]}（${state}）` : String(state);
}

export const CHANNELS = { weibo: '微博', wechat: '微信公众号', portal: '门户网站', media: '媒体订阅', webhook: 'Webhook' };
export function channelText(name) {
  return CHANNELS[name] ? `${CHANNELS[name]}（${name}）` : String(name);
}
