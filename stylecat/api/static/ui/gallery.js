// The filter form applies itself: a style checked, the reviewed choice or the confidence slider
// released. The form works without this script (the Apply button).
const form = document.getElementById("filters");
const slider = document.getElementById("min-confidence");
const shown = document.getElementById("confidence-value");
form.querySelectorAll("input[type=checkbox], select").forEach((control) => {
  control.addEventListener("change", () => form.requestSubmit());
});
slider.addEventListener("input", () => { shown.value = Number(slider.value).toFixed(2); });
slider.addEventListener("change", () => form.requestSubmit());
form.addEventListener("submit", () => {
  // keep shared URLs short: leave out what filters nothing
  if (Number(slider.value) === 0) slider.disabled = true;
  form.querySelectorAll("input[type=search], select").forEach((c) => { if (!c.value) c.disabled = true; });
});
