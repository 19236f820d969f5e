// The runs table: tick runs, then Compare opens /projects/{p}/runs/compare?ids=1,2,3.
// Without this script the same form still works (it sends id=1&id=2).

const form = document.getElementById("compare-form");
if (form) {
  const button = document.getElementById("compare-button");
  const hint = document.getElementById("compare-hint");
  const all = document.getElementById("select-all");
  const boxes = () => [...form.querySelectorAll("input[name='id']")];
  const ticked = () => boxes().filter((box) => box.checked);

  const update = () => {
    const count = ticked().length;
    button.disabled = count < 2;
    button.textContent = count >= 2 ? `Compare ${count} runs` : "Compare";
    hint.hidden = count >= 2;
    all.checked = count > 0 && count === boxes().length;
    all.indeterminate = count > 0 && count < boxes().length;
  };

  all.hidden = false;
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    update();
  });
  form.addEventListener("change", (event) => {
    if (event.target !== all) update();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const ids = ticked().map((box) => box.value);
    if (ids.length < 2) return;
    window.location.assign(`${form.action}?ids=${ids.join(",")}`);
  });
  update(); // a reload may keep boxes ticked
}
