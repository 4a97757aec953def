/* Sends the visitor to the page in their language, before the page is drawn. It runs in the
   head, ahead of everything else. A `?locale=` on any link wins and is remembered; on the
   pages at the site's root, the remembered choice and then the browser's languages decide.
   A page under a locale's folder (/de/login/) keeps its language unless a link says otherwise.
   The same matching as backend/i18n.py's match(), fed by the table the build writes. */
(() => {
  'use strict';

  const data = JSON.parse(document.getElementById('porch-locales').textContent);
  const offered = new Map(data.available.map((tag) => [tag.toLowerCase(), tag]));
  const KEY = 'porch.locale';

  const match = (requested) => {
    for (const wanted of requested) {
      const parts = String(wanted || '').trim().replace(/_/g, '-').toLowerCase().split('-');
      const language = parts[0];
      const script = parts.slice(1).find((p) => /^[a-z]{4}$/.test(p)) || '';
      const region = parts.slice(1).find((p) => /^([a-z]{2}|[0-9]{3})$/.test(p)) || '';
      const candidates = [parts.join('-'), language + '-' + region, language + '-' + script];
      candidates.push(...candidates.map((c) => (data.aliases[c] || '').toLowerCase()));
      if (language === 'es' && region && region !== 'es') candidates.push('es-419');
      candidates.push((data.aliases[language] || '').toLowerCase(), language);
      const found = candidates.find((c) => c && offered.has(c));
      if (found) return offered.get(found);
    }
    return null;
  };

  const remember = (tag) => {
    try {
      localStorage.setItem(KEY, tag);
    } catch (error) {
      /* Storage may be off; the choice then lasts for this page only. */
    }
  };
  const remembered = () => {
    try {
      return localStorage.getItem(KEY);
    } catch (error) {
      return null;
    }
  };

  const params = new URLSearchParams(location.search);
  const asked = params.get('locale');
  const here = document.documentElement.lang;
  const atRoot = document.documentElement.dataset.base === '/';
  let wanted = null;
  if (asked) {
    wanted = match([asked]);
    if (wanted) remember(wanted);
  } else if (atRoot) {
    wanted = match([remembered(), ...(navigator.languages || [navigator.language])]);
  }
  params.delete('locale');
  const query = params.toString() ? '?' + params : '';
  if (wanted && wanted !== here) {
    const base = wanted === data.default ? '/' : '/' + wanted + '/';
    location.replace(base + data.page + query + location.hash);
  } else if (asked) {
    history.replaceState(null, '', location.pathname + query + location.hash);
  }
})();
