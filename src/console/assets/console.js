// The console's only script besides htmx: Copy buttons. Served from 'self' (the CSP allows no inline script).
// The accessible name starts with the visible word, so it changes with it (WCAG 2.5.3).
function relabel(button, word) {
  const label = button.getAttribute('aria-label');
  if (label) button.setAttribute('aria-label', label.replace(/^\S+( failed)?/, word));
  button.textContent = word;
}

document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('[data-copy]') : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute('data-copy'));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(
    () => relabel(button, 'Copied'),
    () => relabel(button, 'Copy failed'),
  );
});
