/*
 * The dispatch dialog in the browser: a slot's far / busy mark follows the unit the leader
 * puts in it (the server marks the proposed ones; dashboard/desk_dispatch.py slot_class says
 * the same in Python). The dialog's state (desk-dialog-plan) lists the far and busy units.
 */
(function () {
  "use strict";

  function slotClass(unit, plan) {
    var state = plan || {};
    var far = state.far || [], busy = state.busy || [];
    return "desk-dslot" + (unit && far.indexOf(unit) >= 0 ? " desk-dslot-far" : "")
      + (unit && busy.indexOf(unit) >= 0 ? " desk-dslot-busy" : "");
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    sitroomDispatch: { slotClass: slotClass },
  });
})();
