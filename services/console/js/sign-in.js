import { el, show } from './dom.js';

document.getElementById('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = document.getElementById('token').value.trim();
  const response = await fetch('/console/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (response.ok) {
    window.location.assign('/console/index.html');
    return;
  }
  const text = response.status === 401 ? '令牌无效，请检查后重试。' : `登录失败（HTTP ${response.status}）`;
  show('message', el('p', { class: 'error', role: 'alert', text }));
});
