// Approve / return controls for one pending item, shared by the queue and the item page.
import { api, hasRole } from './api.js';
import { el } from './dom.js';

export function reviewControls(s, item, onDone) {
  if (!hasRole(s, 'reviewer', 'duty_officer')) return null;
  if (item.author === s.user) {
    return el('p', { class: 'muted', text: '这是您本人提交的稿件：按两级审核规定，作者不能批准自己的稿件，需由其他审核人批准。' });
  }
  const commentId = `comment-${item.id}`;
  const status = el('span', { role: 'status' });
  const comment = el('input', { id: commentId, type: 'text', maxlength: '2000' });
  const decide = async (decision) => {
    if (decision === 'reject' && !comment.value.trim()) {
      status.textContent = '退回时请填写意见。';
      comment.focus();
      return;
    }
    try {
      await api('POST', `/v1/items/${encodeURIComponent(item.id)}/approvals`, { decision, comment: comment.value });
      status.textContent = decision === 'approve' ? '已批准。' : '已退回。';
      // One decision per reviewer: the buttons go once it is recorded.
      for (const button of box.querySelectorAll('button')) button.disabled = true;
      if (onDone) onDone();
    } catch (error) {
      status.textContent = `未成功：${error.message}`;
    }
  };
  const box = el('div', { class: 'review row' },
    el('label', { for: commentId, text: '审核意见' }), comment,
    el('button', { type: 'button', onclick: () => decide('approve'), text: '批准' }),
    el('button', { type: 'button', class: 'secondary', onclick: () => decide('reject'), text: '退回' }),
    status);
  return box;
}
