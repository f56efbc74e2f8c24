// The customer portal's script (no inline script anywhere; the CSP forbids it).
// - The card form (#card-form): Stripe.js mounts its card element in #card-element; on submit,
//   stripe.confirmCardSetup(client secret, {payment_method: {card}}) confirms the SetupIntent
//   in the browser (the card goes to Stripe, never to this server), then the form is sent with
//   the SetupIntent's id. A decline or a bad card shows Stripe's message in #card-errors.
// - A top-up still processing (data-refresh-after="2") reloads the page until it is settled.
(function () {
  "use strict";

  function cardForm(form) {
    var errors = document.getElementById("card-errors");
    var button = form.querySelector("button[type=submit]");
    function fail(message) {
      errors.textContent = message;
      if (button) { button.disabled = false; }
    }
    var stripe, card;
    try {
      if (typeof window.Stripe !== "function" || !form.getAttribute("data-stripe-key")) {
        throw new Error("no Stripe.js or no publishable key");
      }
      stripe = window.Stripe(form.getAttribute("data-stripe-key"));
      card = stripe.elements().create("card");
      card.mount("#card-element");
    } catch (e) {
      fail("Card payments are not available right now. Reload the page to try again.");
      if (button) { button.disabled = true; }
      return;
    }
    // Nothing typed yet: say so rather than send an empty card (Stripe's element and
    // localstripe's fake both report a change).
    var touched = false;
    card.on("change", function () { touched = true; });
    var busy = false;
    form.addEventListener("submit", function (event) {
      var setupIntent = form.querySelector("input[name=setup_intent_id]");
      if (setupIntent.value) { return; }
      event.preventDefault();
      if (busy) { return; }
      if (!touched) { fail("Enter your card's number, expiry and security code."); return; }
      busy = true;
      errors.textContent = "";
      if (button) { button.disabled = true; }
      stripe.confirmCardSetup(form.getAttribute("data-client-secret"), {
        payment_method: { card: card }
      }).then(function (result) {
        busy = false;
        if (result.error || !result.setupIntent) {
          var message = result.error && result.error.message;
          fail(message || "The card was not accepted. Check it and try again.");
          return;
        }
        setupIntent.value = result.setupIntent.id;
        form.submit();
      }, function () {
        busy = false;
        fail("The card could not be checked. Try again.");
      });
    });
  }

  function refreshing(el) {
    var seconds = parseInt(el.getAttribute("data-refresh-after"), 10) || 2;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("card-form");
    if (form) { cardForm(form); }
    var pending = document.querySelector("[data-refresh-after]");
    if (pending) { refreshing(pending); }
  });
})();
