// A support lead's Helpdesk for the sandbox: a few hundred articles in English, French, German and
// Spanish (one in Japanese), in categories, with drafts, a hidden article, a draft that answers a
// question no published article answers, and forty integration guides that one word matches. Built
// on the sandbox's seed, so its articles are the ones other tests name; the fillers are generated,
// the articles the ranked queries aim at are written out.
import { SEED_HELPDESK, type SeedArticle, type SeedGroup } from '../../src/sandbox/helpdesk-data.js';
import type { SandboxHelpdesk } from '../../src/sandbox/routes/helpdesk.js';

const article = (slug: string, title: string, content: string, extra: Partial<SeedArticle> = {}): SeedArticle => ({ slug, title, description: '', published: true, content: `# ${title}\n\n${content}`, ...extra });

const APPS = ['Slack', 'Zapier', 'Shopify', 'WordPress', 'HubSpot', 'Salesforce', 'Stripe', 'Zendesk', 'Notion', 'Trello', 'Asana', 'Jira', 'GitHub', 'GitLab', 'Mailchimp', 'Intercom', 'Pipedrive', 'Airtable', 'Google Sheets', 'Microsoft Teams', 'Discord', 'Telegram', 'WhatsApp', 'Messenger', 'Instagram', 'Twilio', 'Segment', 'Mixpanel', 'Amplitude', 'Webflow', 'Wix', 'Squarespace', 'Magento', 'PrestaShop', 'WooCommerce', 'Calendly', 'Typeform', 'Dropbox', 'Box', 'Okta'];
const FEATURES = ['dashboard', 'reports', 'team inbox', 'labels', 'saved replies', 'chat widget', 'mobile app', 'email forwarding', 'working hours', 'custom fields', 'audit log', 'API keys', 'webhooks', 'roles', 'single sign-on', 'data export', 'notifications', 'language settings', 'dark mode', 'keyboard shortcuts'];
const ASPECTS = [
  ['set-up', 'Set up', 'Open Settings and switch it on; the defaults suit most teams.'],
  ['troubleshoot', 'Troubleshoot', 'If it does not behave as expected, reload the page and check your browser extensions.'],
  ['limits', 'Limits of', 'Each plan has its own limits; the Pro plan lifts most of them.'],
  ['best-practices', 'Best practices for', 'Teams that review it weekly get the most out of it.'],
  ['faq', 'Questions about', 'The questions we hear most, with short answers.'],
] as const;

function englishFillers(): SeedGroup[] {
  const integrations: SeedGroup = {
    slug: 'integrations',
    title: 'Integrations',
    articles: APPS.map((app) => article(`connect-${app.toLowerCase().replace(/\s+/g, '-')}`, `Connect ${app}`, `The ${app} integration sends your conversations to ${app}. Install it from **Settings → Integrations**, sign in to ${app} and pick what to sync.`)),
  };
  const features: SeedGroup[] = FEATURES.map((feature) => ({
    slug: feature.replace(/\s+/g, '-').toLowerCase(),
    title: feature[0]!.toUpperCase() + feature.slice(1),
    articles: ASPECTS.map(([slug, verb, text]) => article(`${slug}-${feature.replace(/\s+/g, '-').toLowerCase()}`, `${verb} ${feature}`, `${text} This page is about ${feature}.`)),
  }));
  const releases: SeedGroup = {
    slug: 'release-notes',
    title: 'Release notes',
    articles: Array.from({ length: 60 }, (_, i) => article(`release-3-${i}`, `Release 3.${i}`, `Version 3.${i} brings speed improvements to the ${FEATURES[i % FEATURES.length]} and fixes reported by customers.`)),
  };
  return [integrations, ...features, releases];
}

const enExtra: SeedGroup = {
  slug: 'help',
  title: 'More help',
  articles: [
    article('change-email', 'Change the email of your account', 'Go to **Settings → Profile** and type the new address; we send a confirmation link to it before the change takes effect.'),
    article('invite-teammates', 'Invite teammates', 'Add seats in **Settings → Team → Invite**; each teammate gets an email to join your workspace.'),
    article('enterprise-sla-draft', 'Enterprise SLA (draft)', 'Internal draft: enterprise customers get a guaranteed uptime of 99.99% and a four-hour response to outages.', { published: false }),
  ],
};

const de: SeedGroup[] = [
  {
    slug: 'abrechnung',
    title: 'Abrechnung',
    articles: [
      article('rueckerstattung', 'Rückerstattung', 'Sie bekommen Ihr Geld innerhalb von **30 Tagen** nach jeder Zahlung zurück. Schreiben Sie uns im Chat mit der E-Mail Ihres Kontos.'),
      article('rechnungen-und-mwst', 'Rechnungen und Mehrwertsteuer', 'Alle Rechnungen finden Sie unter **Einstellungen → Abrechnung → Rechnungen**. Tragen Sie dort Ihre Umsatzsteuer-Identifikationsnummer ein.'),
      article('zahlungsmethode', 'Zahlungsmethode ändern', 'Unter **Einstellungen → Abrechnung** ersetzen Sie Ihre Kreditkarte; eine fehlgeschlagene Zahlung wird sofort erneut versucht.'),
    ],
  },
  {
    slug: 'konto',
    title: 'Ihr Konto',
    articles: [
      article('passwort-zuruecksetzen', 'Passwort zurücksetzen', 'Sie können sich nicht anmelden? Klicken Sie auf der Anmeldeseite auf **Passwort vergessen** und geben Sie Ihre E-Mail ein.'),
      article('abo-kuendigen', 'Abonnement kündigen', 'Unter **Einstellungen → Abrechnung → Tarif** klicken Sie auf *Kündigen*. Sie behalten den Zugang bis zum Ende des bezahlten Zeitraums.'),
      article('datenschutz', 'Datenschutz und DSGVO', 'Wir verarbeiten personenbezogene Daten nach der DSGVO. Sie können Ihre Daten löschen lassen: schreiben Sie an privacy@example.com.'),
    ],
  },
  {
    slug: 'versand',
    title: 'Versand',
    articles: [article('lieferzeiten', 'Lieferzeiten und Sendungsverfolgung', 'Bestellungen verlassen unser Lager innerhalb von 2 Werktagen. Die Lieferung dauert 3 bis 5 Tage. Ein Paket, das nach 15 Tagen nicht angekommen ist, gilt als verloren.')],
  },
  { slug: 'integrationen', title: 'Integrationen', articles: APPS.slice(0, 20).map((app) => article(`${app.toLowerCase().replace(/\s+/g, '-')}-verbinden`, `${app} verbinden`, `Die ${app}-Integration überträgt Ihre Gespräche nach ${app}.`)) },
];

const es: SeedGroup[] = [
  {
    slug: 'facturacion',
    title: 'Facturación',
    articles: [
      article('politica-de-reembolso', 'Política de reembolso', '¿Cambió de opinión? Le devolvemos su dinero dentro de los **30 días** siguientes a cualquier pago. Escríbanos desde el chat con el correo de su cuenta.'),
      article('facturas-e-iva', 'Facturas e IVA', 'Todas las facturas están en **Ajustes → Facturación → Facturas**. Añada allí el número de IVA de su empresa.'),
    ],
  },
  {
    slug: 'cuenta',
    title: 'Su cuenta',
    articles: [
      article('restablecer-contrasena', 'Restablecer su contraseña', '¿No puede iniciar sesión? Haga clic en **¿Olvidó su contraseña?** en la página de acceso e introduzca su correo.'),
      article('cancelar-suscripcion', 'Cancelar su suscripción', 'Vaya a **Ajustes → Facturación → Plan** y haga clic en *Cancelar*. Conserva el acceso hasta el final del periodo pagado.'),
      article('envios', 'Plazos de envío y seguimiento', 'Los pedidos salen de nuestro almacén en 2 días hábiles. Un paquete que no ha llegado después de 15 días se considera perdido.'),
    ],
  },
  { slug: 'integraciones', title: 'Integraciones', articles: APPS.slice(0, 20).map((app) => article(`conectar-${app.toLowerCase().replace(/\s+/g, '-')}`, `Conectar ${app}`, `La integración con ${app} envía sus conversaciones a ${app}.`)) },
];

const ja: SeedGroup[] = [{ slug: 'billing', title: '請求', articles: [article('refunds', '返金について', 'ご購入から30日以内であれば、理由を問わず返金いたします。チャットでアカウントのメールアドレスをお知らせください。')] }];

/** A new copy each call: tests edit it while the sandbox serves it. */
export function supportLeadHelpdesk(): SandboxHelpdesk {
  const seed = structuredClone(SEED_HELPDESK);
  const frExtra: SeedGroup = { slug: 'integrations', title: 'Intégrations', articles: APPS.slice(0, 20).map((app) => article(`connecter-${app.toLowerCase().replace(/\s+/g, '-')}`, `Connecter ${app}`, `L'intégration ${app} envoie vos conversations vers ${app}.`)) };
  return { en: [...seed.en!, enExtra, ...englishFillers()], fr: [...seed.fr!, frExtra], de: structuredClone(de), es: structuredClone(es), ja: structuredClone(ja) };
}

/** Questions visitors ask, each with the article a support lead wants first (locale: what the asker passes, if anything). */
export const RANKED_QUERIES: { query: string; locale?: string; want: string; wantLocale: string }[] = [
  { query: 'I want my money back', want: 'billing/refund-policy', wantLocale: 'en' },
  { query: 'how do i get a refnud', want: 'billing/refund-policy', wantLocale: 'en' },
  { query: 'forgot my pasword', want: 'account/reset-password', wantLocale: 'en' },
  { query: 'cannot log in anymore', want: 'account/reset-password', wantLocale: 'en' },
  { query: 'my card expired and the payment failed', want: 'billing/update-payment-method', wantLocale: 'en' },
  { query: 'where is my parcel', want: 'orders/shipping-times', wantLocale: 'en' },
  { query: 'I need an invoice with our VAT number', want: 'billing/invoices-and-vat', wantLocale: 'en' },
  { query: 'code from my authenticator app', want: 'account/two-factor-authentication', wantLocale: 'en' },
  { query: 'erase all my personal data', want: 'privacy/gdpr-data-processing', wantLocale: 'en' },
  { query: 'stop paying for the plan', want: 'account/cancel-subscription', wantLocale: 'en' },
  { query: 'change my login email adress', want: 'help/change-email', wantLocale: 'en' },
  { query: 'connect to slack', want: 'integrations/connect-slack', wantLocale: 'en' },
  { query: 'je veux être remboursé', locale: 'fr', want: 'facturation/politique-de-remboursement', wantLocale: 'fr' },
  { query: 'mot de pase oublié', locale: 'fr', want: 'compte/reinitialiser-mot-de-passe', wantLocale: 'fr' },
  { query: 'Passwort vergessen', locale: 'de', want: 'konto/passwort-zuruecksetzen', wantLocale: 'de' },
  { query: 'Rechnung mit Mehrwertsteuer', locale: 'de', want: 'abrechnung/rechnungen-und-mwst', wantLocale: 'de' },
  { query: 'quiero un reembolso', locale: 'es', want: 'facturacion/politica-de-reembolso', wantLocale: 'es' },
  { query: 'olvidé mi contraseña', locale: 'es-MX', want: 'cuenta/restablecer-contrasena', wantLocale: 'es' },
  { query: 'Paket nicht angekommen', want: 'versand/lieferzeiten', wantLocale: 'de' },
  { query: 'cómo cancelar mi suscripción', want: 'cuenta/cancelar-suscripcion', wantLocale: 'es' },
  { query: 'Ich möchte mein Abonnement kündigen', locale: 'DE', want: 'konto/abo-kuendigen', wantLocale: 'de' },
  { query: '返金したい', locale: 'ja', want: 'billing/refunds', wantLocale: 'ja' },
];
