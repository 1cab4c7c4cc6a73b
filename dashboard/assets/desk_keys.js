/*
 * The desk's keyboard shortcuts (layout and labels: dashboard/desk_keys.py).
 *
 * A key presses the same button the mouse does, so a disabled button (no incident selected,
 * the status does not allow it, the role may not) stays unpressed and the permission checks,
 * the dispatch confirmation and the journal are those of the click. Keys typed into a field,
 * or with Ctrl/Alt/Meta held (the browser's own shortcuts), are left alone. `?` opens the help
 * overlay: focus stays inside it while open and returns where it was after Esc.
 */
(function () {
  "use strict";

  var OVERLAY = "desk-keys";
  var LEVELS = ["I", "II", "III", "IV"];  // most severe first, as the buttons are laid out
  var returnTo = null;

  function byId(id) { return document.getElementById(id); }

  function typing(target) {
    if (!target || !target.closest) { return false; }
    return Boolean(target.isContentEditable ||
                   target.closest("input, textarea, select, [contenteditable='true']"));
  }

  function say(template, what) {
    var line = byId("desk-keys-msg");
    if (!line) { return; }
    line.textContent = String(template || "").replace("{what}", what || "");
  }

  function texts() { return (byId(OVERLAY) || {}).dataset || {}; }

  function usable(id) {
    var button = byId(id);
    return button && !button.disabled ? button : null;
  }

  function selected() {
    var panel = byId("desk-panel");
    return Boolean(panel) && !panel.classList.contains("desk-panel-empty");
  }

  /** Press `id` if it can be pressed now; else say why. */
  function press(id) {
    var button = usable(id);
    if (button) { say(""); button.click(); return; }
    var found = byId(id);
    say(selected() ? texts().off : texts().none, found ? found.textContent : id);
  }

  /** The level one more severe than the current one: the current level's button is the one
   * disabled while the others are enabled (desk_panel.enabled_actions). */
  function escalate() {
    var buttons = LEVELS.map(function (lv) { return byId("desk-lvl-" + lv); });
    var enabled = buttons.filter(function (b) { return b && !b.disabled; });
    if (!selected()) { say(texts().none); return; }
    if (enabled.length !== LEVELS.length - 1) {
      say(texts().off, (document.querySelector(".desk-lvls .desk-sub") || {}).textContent);
      return;
    }
    var current = buttons.findIndex(function (b) { return b && b.disabled; });
    if (current <= 0) { say(texts().top); return; }
    press("desk-lvl-" + LEVELS[current - 1]);
  }

  /** Close: "resolved" is pressed; a false alarm dismisses the incident, so it is only
   * focused, and Enter (the user's second, deliberate key) confirms it. */
  function close() {
    if (usable("desk-act-resolved")) { press("desk-act-resolved"); return; }
    var falseAlarm = usable("desk-act-false_alarm");
    if (falseAlarm) {
      falseAlarm.focus();
      say(texts().confirm, falseAlarm.textContent);
      return;
    }
    press("desk-act-resolved");
  }

  function note() {
    var box = byId("desk-note");
    if (box && !box.disabled && selected()) { say(""); box.focus(); return; }
    say(texts().none);
  }

  var ACTIONS = {
    v: function () { press("desk-act-verify"); },
    e: escalate,
    d: function () { press("desk-act-dispatch"); },
    n: note,
    c: close,
  };

  // --- the help overlay ----------------------------------------------------------------

  function isOpen() {
    var box = byId(OVERLAY);
    return Boolean(box) && !box.hidden;
  }

  function focusables() {
    var box = byId(OVERLAY);
    if (!box) { return []; }
    return Array.prototype.slice.call(box.querySelectorAll(
      "button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])"))
      .filter(function (el) { return !el.disabled; });
  }

  function openHelp() {
    var box = byId(OVERLAY);
    if (!box || isOpen()) { return; }
    returnTo = document.activeElement;
    box.hidden = false;
    var first = focusables()[0];
    if (first) { first.focus(); }
  }

  function closeHelp() {
    var box = byId(OVERLAY);
    if (!box || !isOpen()) { return; }
    box.hidden = true;
    var back = returnTo;
    returnTo = null;
    if (back && back.focus && document.contains(back)) { back.focus(); }
  }

  function trap(event) {
    var items = focusables();
    if (!items.length) { event.preventDefault(); return; }
    var first = items[0], last = items[items.length - 1];
    var inside = byId(OVERLAY).contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (!byId(OVERLAY)) { return; }  // not the desk
    if (isOpen()) {
      if (event.key === "Escape" || event.key === "?") {
        event.preventDefault();
        closeHelp();
      } else if (event.key === "Tab") {
        trap(event);
      }
      return;  // the page behind the overlay takes no keys
    }
    if (event.defaultPrevented || event.isComposing) { return; }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) &&
        event.target && event.target.id === "desk-note") {
      event.preventDefault();
      press("desk-act-note");
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) { return; }
    if (event.key === "?") {
      event.preventDefault();
      openHelp();
      return;
    }
    var action = ACTIONS[String(event.key || "").toLowerCase()];
    if (action && !event.shiftKey) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest || !isOpen()) { return; }
    // The close button, or a click on the dim backdrop around the box.
    if (target.closest("#desk-keys-close") || target.id === OVERLAY) { closeHelp(); }
  });

  window.sitroomDeskKeys = { open: openHelp, close: closeHelp };
})();
